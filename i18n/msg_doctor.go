package i18n

// doctorMessages are the texts of gomirror doctor and gomirror explain.
var doctorMessages = []entry{}
