# Die Einwahldaten, die hcal in Einladungen schreibt (Deutsch).

join-heading = Am { $platform }-Meeting teilnehmen
meeting-link = Meeting-Link
video-address = Über Videoadresse beitreten
meeting-number = Meeting-Nummer
dial-in = Telefonische Einwahl
field = { $label }:

notice-heading = hcal konnte diesem Termin keine Einwahldaten hinzufügen
notice-unknown-modifier = Der Text nach dem Doppelpunkt des Stichworts ist keine Aktion, die hcal kennt. Verwenden Sie :myroom, :onetime oder :space oder das Stichwort allein.
notice-platform-refused = { $platform } hat kein Meeting für Sie bereitgestellt (kein Konto oder abgelehnt). Wenden Sie sich an Ihre Administration und bearbeiten Sie dann den Termin.
notice-series-not-bookable = Für eine ganze Serie kann kein eigenes Meeting gebucht werden. Verwenden Sie für die Serie das Stichwort ohne :onetime.
notice-footer = Dieser Hinweis wird durch die Einwahldaten ersetzt, sobald sie hinzugefügt werden können.
