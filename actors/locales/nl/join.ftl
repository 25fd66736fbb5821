# De deelnamegegevens die hcal in uitnodigingen schrijft (Nederlands).

join-heading = Deelnemen aan { $platform }-vergadering
meeting-link = Vergaderlink
video-address = Deelnemen via videoadres
meeting-number = Vergadernummer
dial-in = Inbellen
field = { $label }:

notice-heading = hcal kon geen deelnamegegevens aan deze uitnodiging toevoegen
notice-unknown-modifier = De tekst na de dubbele punt van het trefwoord is geen actie die hcal kent. Gebruik :myroom, :onetime of :space, of alleen het trefwoord.
notice-platform-refused = { $platform } heeft geen vergadering voor u geleverd (geen account, of geweigerd). Vraag het uw beheerder en bewerk daarna de uitnodiging.
notice-series-not-bookable = Voor een hele reeks kan geen eigen vergadering worden geboekt. Gebruik voor de reeks het trefwoord zonder :onetime.
notice-footer = Deze notitie wordt vervangen door de deelnamegegevens zodra die kunnen worden toegevoegd.
