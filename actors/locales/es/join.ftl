# Los datos de conexión que hcal escribe en las invitaciones (español).

join-heading = Entrar a la reunión de { $platform }
meeting-link = Enlace de la reunión
video-address = Entrar por dirección de vídeo
meeting-number = Número de reunión
dial-in = Entrar por teléfono
field = { $label }:

notice-heading = hcal no pudo añadir los datos de acceso a la reunión en esta invitación
notice-unknown-modifier = El texto tras los dos puntos de la palabra clave no es una acción que hcal conozca. Use :myroom, :onetime o :space, o la palabra clave sola.
notice-platform-refused = { $platform } no le proporcionó una reunión (sin cuenta, o la rechazó). Consulte a su administrador y luego edite la invitación.
notice-series-not-bookable = No se puede reservar una reunión propia para toda una serie. Use la palabra clave sin :onetime para la serie.
notice-footer = Esta nota se sustituirá por los datos de acceso en cuanto puedan añadirse.
