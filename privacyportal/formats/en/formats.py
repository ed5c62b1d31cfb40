"""One date format per language (issue 13): the short formats are the long ones, so a page
never mixes "Nov. 30, 2026" with "11/30/2026"."""

DATE_FORMAT = "N j, Y"
DATETIME_FORMAT = "N j, Y, H:i"
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
YEAR_MONTH_FORMAT = "F Y"
TIME_FORMAT = "H:i"
