"""What netcheck reads from an Azure export (`az ... list -o json`), never a live Azure call."""
