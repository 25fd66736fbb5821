# Les informations de connexion que hcal ajoute aux invitations (français).
# Typographie française : une espace insécable précède les deux-points.

join-heading = Rejoindre la réunion { $platform }
meeting-link = Lien de la réunion
video-address = Rejoindre par adresse vidéo
meeting-number = Numéro de réunion
dial-in = Rejoindre par téléphone
field = { $label } :
