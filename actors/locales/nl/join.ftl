# De deelnamegegevens die hcal in uitnodigingen schrijft (Nederlands).

join-heading = Deelnemen aan { $platform }-vergadering
meeting-link = Vergaderlink
video-address = Deelnemen via videoadres
meeting-number = Vergadernummer
dial-in = Inbellen
field = { $label }:
