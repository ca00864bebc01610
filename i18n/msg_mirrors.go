package i18n

// mirrorsMessages are the texts of the public mirror catalogue, gomirror setup and gomirror bench.
var mirrorsMessages = []entry{}
