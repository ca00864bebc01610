-- Version 4 is reserved for the audit-log segments of another branch; this
-- placeholder keeps the versions without a gap until the two are merged
-- (the merge drops it and renumbers).
SELECT 1;
