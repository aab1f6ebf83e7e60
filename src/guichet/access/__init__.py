"""Who may call guichet and what personal data it keeps: site keys, masking, log masking, retention."""
