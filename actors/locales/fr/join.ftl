# Les informations de connexion que hcal ajoute aux invitations (français).
# Typographie française : une espace insécable précède les deux-points.

join-heading = Rejoindre la réunion { $platform }
meeting-link = Lien de la réunion
video-address = Rejoindre par adresse vidéo
meeting-number = Numéro de réunion
dial-in = Rejoindre par téléphone
field = { $label } :

notice-heading = hcal n’a pas pu ajouter les informations de connexion à cette invitation
notice-unknown-modifier = Le texte après les deux-points du mot-clé n’est pas une action connue de hcal. Utilisez :myroom, :onetime ou :space, ou le mot-clé seul.
notice-platform-refused = { $platform } ne vous a pas fourni de réunion (pas de compte, ou refus). Contactez votre administrateur, puis modifiez l’invitation.
notice-series-not-bookable = Une réunion dédiée ne peut pas être réservée pour toute une série. Utilisez le mot-clé sans :onetime pour la série.
notice-footer = Cette note sera remplacée par les informations de connexion dès qu’elles pourront être ajoutées.
