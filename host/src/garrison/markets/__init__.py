"""markets"""
