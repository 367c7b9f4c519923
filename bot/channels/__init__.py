"""Input channels: the validated REST channel and the WeChat Official Account channel."""
