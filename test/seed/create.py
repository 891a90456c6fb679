# The provider's "Create voice" Python example, as written; only the URL and file changed.
import os
import requests
import base64, pathlib
target_model = "qwen3-tts-vc-realtime-2026-01-15"
preferred_name = "guanyu"
audio_mime_type = "audio/mpeg"
file_path = pathlib.Path(os.environ["SEED_AUDIO_FILE"])
base64_str = base64.b64encode(file_path.read_bytes()).decode()
data_uri = f"data: {audio_mime_type} ;base64, {base64_str} "
api_key = os.getenv("DASHSCOPE_API_KEY")
url = os.environ["SEED_BASE_URL"] + "/api/v1/services/audio/tts/customization"
payload = {
    "model": "qwen-voice-enrollment", # Do not change this value
    "input": {
        "action": "create",
        "target_model": target_model,
        "preferred_name": preferred_name,
        "audio": {
            "data": data_uri
        }
    }
}
headers = {
    "Authorization": f"Bearer {api_key}",
    "Content-Type": "application/json"
}
# Send POST request
resp = requests.post(url, json=payload, headers=headers)
if resp.status_code == 200:
    data = resp.json()
    voice = data["output"]["voice"]
    print(f"Generated voice parameter: {voice}")
else:
    print("Request failed:", resp.status_code, resp.text)
