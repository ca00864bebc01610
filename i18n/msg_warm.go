package i18n

// warmMessages are the texts of gomirror warm and gomirror graph.
var warmMessages = []entry{}
