-- An eSIM's buyer: where its install mail goes (and in which language), and the
-- confirmation code the SM-DP+ asks the phone for when the operator uses one (SGP.22
-- §4.1 "confirmation code required"), kept to be shown to the buyer apart from the QR.
ALTER TABLE esim_profiles ADD COLUMN confirmation_code TEXT;
ALTER TABLE esim_profiles ADD COLUMN notify_email TEXT;
ALTER TABLE esim_profiles ADD COLUMN notify_locale TEXT;
-- While one server orders a profile at the SM-DP+ (downloadOrder, confirmOrder), the
-- others leave it alone until this time (unix seconds).
ALTER TABLE esim_profiles ADD COLUMN release_lease_until BIGINT;
