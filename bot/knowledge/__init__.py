"""The help centre: articles per language, the search engine (stemming, diacritics,
typos, one ranking for every store), and what customers say about the articles."""
