# Os dados de acesso que o hcal escreve nos convites (português do Brasil).

join-heading = Participar da reunião do { $platform }
meeting-link = Link da reunião
video-address = Participar pelo endereço de vídeo
meeting-number = Número da reunião
dial-in = Participar por telefone
field = { $label }:

notice-heading = O hcal não conseguiu adicionar os dados de acesso à reunião neste convite
notice-unknown-modifier = O texto após os dois-pontos da palavra-chave não é uma ação que o hcal conheça. Use :myroom, :onetime ou :space, ou apenas a palavra-chave.
notice-platform-refused = { $platform } não forneceu uma reunião para você (sem conta ou recusou). Fale com o administrador e depois edite o convite.
notice-series-not-bookable = Não é possível reservar uma reunião própria para uma série inteira. Use a palavra-chave sem :onetime para a série.
notice-footer = Esta nota será substituída pelos dados de acesso assim que puderem ser adicionados.
