# I dati di accesso che hcal scrive negli inviti (italiano).

join-heading = Partecipa alla riunione { $platform }
meeting-link = Link della riunione
video-address = Partecipa tramite indirizzo video
meeting-number = Numero della riunione
dial-in = Partecipa per telefono
field = { $label }:

notice-heading = hcal non è riuscito ad aggiungere i dettagli di accesso alla riunione a questo invito
notice-unknown-modifier = Il testo dopo i due punti della parola chiave non è un’azione nota a hcal. Usa :myroom, :onetime o :space, oppure la sola parola chiave.
notice-platform-refused = { $platform } non ha fornito una riunione per te (nessun account o rifiuto). Rivolgiti all’amministratore, poi modifica l’invito.
notice-series-not-bookable = Non è possibile prenotare una riunione dedicata per un’intera serie. Usa la parola chiave senza :onetime per la serie.
notice-footer = Questa nota verrà sostituita dai dettagli di accesso appena potranno essere aggiunti.
