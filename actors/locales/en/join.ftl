# The join block hcal writes into invites (English: the reference every other language has the
# same messages and placeholders as).

# Heading of the block. $platform is the booked platform's display name ("Webex").
join-heading = Join { $platform } meeting
# Label of the web join link.
meeting-link = Meeting link
# Label of the video (SIP) address, for room devices and video systems.
video-address = Join by video address
# Label of the meeting number (access code).
meeting-number = Meeting number
# Label of the dial-in numbers.
dial-in = Dial in
# How a label introduces its value, e.g. "Meeting link: https://…"; hcal adds one space after it.
field = { $label }:
