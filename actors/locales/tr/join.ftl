# hcal'ın davetlere yazdığı katılım bilgileri (Türkçe).

join-heading = { $platform } toplantısına katılın
meeting-link = Toplantı bağlantısı
video-address = Video adresinden katılın
meeting-number = Toplantı numarası
dial-in = Telefonla katılın
field = { $label }:
