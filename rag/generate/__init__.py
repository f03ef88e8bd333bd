"""Prompt -> text: the Generator protocol and its llama.cpp adapter."""
