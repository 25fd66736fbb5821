# hcal'ın davetlere yazdığı katılım bilgileri (Türkçe).

join-heading = { $platform } toplantısına katılın
meeting-link = Toplantı bağlantısı
video-address = Video adresinden katılın
meeting-number = Toplantı numarası
dial-in = Telefonla katılın
field = { $label }:

notice-heading = hcal bu davete toplantı katılım bilgilerini ekleyemedi
notice-unknown-modifier = Anahtar kelimedeki iki noktadan sonraki metin hcal'in bildiği bir işlem değil. :myroom, :onetime veya :space kullanın ya da anahtar kelimeyi tek başına yazın.
notice-platform-refused = { $platform } sizin için bir toplantı vermedi (hesap yok veya reddetti). Yöneticinize başvurun, ardından daveti düzenleyin.
notice-series-not-bookable = Tüm bir toplantı dizisi için tek seferlik toplantı ayrılamaz. Dizi için anahtar kelimeyi :onetime olmadan kullanın.
notice-footer = Katılım bilgileri eklenebildiğinde bu not onlarla değiştirilir.
