"""Verifies a webhook delivery with the official Standard Webhooks library, unmodified.

Reads {"secret": "whsec_...", "headers": {...}, "body": "<raw body>"} on stdin; prints the
parsed payload as JSON and exits 0 if the signature verifies, prints the error and exits 1
otherwise.
"""

import json
import sys

from standardwebhooks import Webhook, WebhookVerificationError

request = json.load(sys.stdin)
try:
    payload = Webhook(request["secret"]).verify(request["body"], request["headers"])
except WebhookVerificationError as e:
    print(f"refused: {e}")
    sys.exit(1)
print(json.dumps(payload))
