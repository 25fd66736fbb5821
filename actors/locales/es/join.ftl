# Los datos de conexión que hcal escribe en las invitaciones (español).

join-heading = Entrar a la reunión de { $platform }
meeting-link = Enlace de la reunión
video-address = Entrar por dirección de vídeo
meeting-number = Número de reunión
dial-in = Entrar por teléfono
field = { $label }:
