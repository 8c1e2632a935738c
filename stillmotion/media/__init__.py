"""Media helpers: input fetching and validation, image fitting, MP4 and cover encoding."""
