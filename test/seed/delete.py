# The provider's "Delete a voice" Python example, as written; only the URL and voice changed.
import os
import requests
api_key = os.getenv("DASHSCOPE_API_KEY")
url = os.environ["SEED_BASE_URL"] + "/api/v1/services/audio/tts/customization"
voice_to_delete = os.environ["SEED_VOICE"] # Voice to delete (replace with actual value)
payload = {
    "model": "qwen-voice-enrollment", # Do not change this value
    "input": {
        "action": "delete",
        "voice": voice_to_delete
    }
}
headers = {
    "Authorization": f"Bearer {api_key}",
    "Content-Type": "application/json"
}
response = requests.post(url, json=payload, headers=headers)
print("HTTP status code:", response.status_code)
if response.status_code == 200:
    data = response.json()
    request_id = data["request_id"]
    print(f"Deletion successful")
    print(f"Request ID: {request_id}")
else:
    print("Request failed:", response.text)
