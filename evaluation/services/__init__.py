"""Writes of the evaluation app: sets, runs, panels, consensus, judgment import, bad-case lifecycle, exports."""
