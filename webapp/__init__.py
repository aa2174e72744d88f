"""signlive: live ASL fingerspelling recognition (app factory lives here)."""
