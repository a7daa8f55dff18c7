"""Templates and assets for the HTML report (a package so the files ship as package data)."""
