# Os dados de acesso que o hcal escreve nos convites (português do Brasil).

join-heading = Participar da reunião do { $platform }
meeting-link = Link da reunião
video-address = Participar pelo endereço de vídeo
meeting-number = Número da reunião
dial-in = Participar por telefone
field = { $label }:
