# hcal이 초대에 작성하는 참가 정보(한국어).

join-heading = { $platform } 회의 참가
meeting-link = 회의 링크
video-address = 비디오 주소로 참가
meeting-number = 회의 번호
dial-in = 전화로 참가
field = { $label }:
