-- The display name a client sent for a member (Okta sends the userName);
-- NULL means "show the user's userName".
ALTER TABLE group_members ADD COLUMN display TEXT;
