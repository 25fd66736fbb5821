# Dane dołączenia, które hcal wpisuje do zaproszeń (polski).

join-heading = Dołącz do spotkania { $platform }
meeting-link = Link do spotkania
video-address = Dołącz przez adres wideo
meeting-number = Numer spotkania
dial-in = Dołącz telefonicznie
field = { $label }:

notice-heading = hcal nie mógł dodać danych dołączenia do spotkania w tym zaproszeniu
notice-unknown-modifier = Tekst po dwukropku słowa kluczowego nie jest działaniem znanym hcal. Użyj :myroom, :onetime lub :space albo samego słowa kluczowego.
notice-platform-refused = { $platform } nie zapewnił dla Ciebie spotkania (brak konta lub odmowa). Skontaktuj się z administratorem, a potem edytuj zaproszenie.
notice-series-not-bookable = Nie można zarezerwować osobnego spotkania dla całej serii. Dla serii użyj słowa kluczowego bez :onetime.
notice-footer = Ta notatka zostanie zastąpiona danymi dołączenia, gdy tylko będzie można je dodać.
