// Hookflash web page script.
