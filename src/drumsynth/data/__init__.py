"""Data: the free drum corpus, user folders, the decoded cache, datasets and augmentation."""
