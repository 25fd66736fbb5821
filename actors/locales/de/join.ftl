# Die Einwahldaten, die hcal in Einladungen schreibt (Deutsch).

join-heading = Am { $platform }-Meeting teilnehmen
meeting-link = Meeting-Link
video-address = Über Videoadresse beitreten
meeting-number = Meeting-Nummer
dial-in = Telefonische Einwahl
field = { $label }:
