# The provider's "List voices" Python example, as written; only the URL changed.
import os
import requests
api_key = os.getenv("DASHSCOPE_API_KEY")
url = os.environ["SEED_BASE_URL"] + "/api/v1/services/audio/tts/customization"
payload = {
    "model": "qwen-voice-enrollment", # Do not change this value
    "input": {
        "action": "list",
        "page_size": 10,
        "page_index": 0
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
    voice_list = data["output"]["voice_list"]
    print("List of voices found:")
    for item in voice_list:
        print(f"- Voice: {item['voice']} Creation time: {item['gmt_create']} Model: {item['target_model']}")
else:
    print("Request failed:", response.text)
