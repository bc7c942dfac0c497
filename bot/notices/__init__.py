"""Client notices: the facts a letter is built from, the rules it must follow, and the drafts themselves."""
