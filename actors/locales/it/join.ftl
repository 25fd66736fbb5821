# I dati di accesso che hcal scrive negli inviti (italiano).

join-heading = Partecipa alla riunione { $platform }
meeting-link = Link della riunione
video-address = Partecipa tramite indirizzo video
meeting-number = Numero della riunione
dial-in = Partecipa per telefono
field = { $label }:
