# Dane dołączenia, które hcal wpisuje do zaproszeń (polski).

join-heading = Dołącz do spotkania { $platform }
meeting-link = Link do spotkania
video-address = Dołącz przez adres wideo
meeting-number = Numer spotkania
dial-in = Dołącz telefonicznie
field = { $label }:
