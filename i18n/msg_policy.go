package i18n

// policyMessages are the texts of gomirror policy check and policy explain.
var policyMessages = []entry{}
