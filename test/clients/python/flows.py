"""The provider's own Python clients, used as their documentation shows, against a Timbre server.

Only the base URL and the API key differ from the cloud. Each flow writes what came back into
the output folder (audio files, events, errors) and prints one JSON line; test/clients.test.ts
decodes the audio with ffmpeg and asserts on it.

    python flows.py <flow> <base_url> <api_key> <voice> <output folder> [<reference wav>]
"""
import base64
import json
import sys
import threading
from pathlib import Path

flow, base_url, api_key, voice, out = sys.argv[1:6]
out = Path(out)
out.mkdir(parents=True, exist_ok=True)
text = "The meeting has been moved to Thursday afternoon, so please bring the latest figures with you."


def report(**fields):
    print(json.dumps(fields), flush=True)


def dashscope_http(stream):
    import dashscope
    from dashscope import MultiModalConversation

    dashscope.base_http_api_url = f"{base_url}/api/v1"
    if not stream:
        response = MultiModalConversation.call(
            model="qwen3-tts-vc-2026-01-22", api_key=api_key, text=text, voice=voice, language_type="English"
        )
        import requests

        audio = requests.get(response.output.audio.url, timeout=30)
        (out / "dashscope-http.wav").write_bytes(audio.content)
        # An unknown voice: the SDK hands back the status and DashScope code rather than raising.
        refused = MultiModalConversation.call(
            model="qwen3-tts-vc-2026-01-22", api_key=api_key, text=text, voice="qwen-tts-vc-nobody-voice-20260101000000000-0000"
        )
        report(
            status=response.status_code,
            finish_reason=response.output.finish_reason,
            file="dashscope-http.wav",
            refused=[refused.status_code, refused.code, refused.message],
        )
        return
    pcm = bytearray()
    chunks = 0
    last = None
    for chunk in MultiModalConversation.call(
        model="qwen3-tts-vc-2026-01-22", api_key=api_key, text=text, voice=voice, language_type="English", stream=True
    ):
        if chunk.status_code != 200:
            report(status=chunk.status_code, code=chunk.code, message=chunk.message)
            return
        data = chunk.output.audio.data if chunk.output and chunk.output.audio else None
        if data:
            pcm.extend(base64.b64decode(data))
            chunks += 1
        last = chunk.output.finish_reason if chunk.output else None
    (out / "dashscope-sse.pcm").write_bytes(bytes(pcm))
    report(status=200, chunks=chunks, finish_reason=last, file="dashscope-sse.pcm")


def dashscope_realtime(mode):
    import dashscope
    from dashscope.audio.qwen_tts_realtime import AudioFormat, QwenTtsRealtime, QwenTtsRealtimeCallback

    dashscope.api_key = api_key
    events = []
    pcm = bytearray()
    finished = threading.Event()

    class Callback(QwenTtsRealtimeCallback):
        def on_event(self, response):
            events.append(response["type"])
            if response["type"] == "response.audio.delta":
                pcm.extend(base64.b64decode(response["delta"]))
            if response["type"] == "session.finished":
                finished.set()

        def on_close(self, close_status_code, close_msg):
            finished.set()

    ws_url = base_url.replace("http://", "ws://").replace("https://", "wss://")
    client = QwenTtsRealtime(model="qwen3-tts-vc-realtime-2026-01-15", callback=Callback(), url=f"{ws_url}/api-ws/v1/realtime")
    client.connect()
    client.update_session(voice=voice, response_format=AudioFormat.PCM_24000HZ_MONO_16BIT, mode=mode)
    for part in ("The meeting has been moved ", "to Thursday afternoon, ", "so please bring the latest figures with you."):
        client.append_text(part)
    if mode == "commit":
        client.commit()
    client.finish()
    finished.wait(60)
    client.close()
    name = f"dashscope-realtime-{mode}.pcm"
    (out / name).write_bytes(bytes(pcm))
    report(events=events, file=name, session_id=client.get_session_id())


def enrollment(reference):
    """The provider's page, with `requests`: create with a data URL, list, delete; then its errors."""
    import requests

    url = f"{base_url}/api/v1/services/audio/tts/customization"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    data_uri = "data:audio/wav;base64," + base64.b64encode(Path(reference).read_bytes()).decode()
    def create(preferred_name):
        body = {
            "model": "qwen-voice-enrollment",
            "input": {"action": "create", "target_model": "qwen3-tts-vc-realtime-2026-01-15", "preferred_name": preferred_name, "audio": {"data": data_uri}},
        }
        return requests.post(url, json=body, headers=headers, timeout=60)

    created = create("guanyu")
    made = created.json()["output"]["voice"]
    listed = requests.post(url, json={"model": "qwen-voice-enrollment", "input": {"action": "list", "page_size": 10, "page_index": 0}}, headers=headers, timeout=30)
    deleted = requests.post(url, json={"model": "qwen-voice-enrollment", "input": {"action": "delete", "voice": made}}, headers=headers, timeout=30)
    bad_name = create("bad name!")
    unknown = requests.post(url, json={"model": "qwen-voice-enrollment", "input": {"action": "delete", "voice": "qwen-tts-vc-nobody-voice-20260101000000000-0000"}}, headers=headers, timeout=30)
    report(
        created=[created.status_code, made],
        listed=[listed.status_code, [entry["voice"] for entry in listed.json()["output"]["voice_list"]]],
        deleted=[deleted.status_code, deleted.json()],
        bad_name=[bad_name.status_code, bad_name.json()],
        unknown=[unknown.status_code, unknown.json()],
    )


def openai_speech():
    from openai import OpenAI

    client = OpenAI(base_url=f"{base_url}/v1", api_key=api_key)
    files = {}
    for response_format in ("mp3", "wav", "opus"):
        speech = client.audio.speech.create(model="qwen3-tts-vc-2026-01-22", voice=voice, input=text, response_format=response_format)
        name = f"openai.{response_format}"
        (out / name).write_bytes(speech.content)
        files[response_format] = name
    with client.audio.speech.with_streaming_response.create(model="qwen3-tts-vc-2026-01-22", voice=voice, input=text, response_format="wav") as streamed:
        parts = 0
        with open(out / "openai-streamed.wav", "wb") as target:
            for part in streamed.iter_bytes():
                target.write(part)
                parts += 1
    files["streamed"] = "openai-streamed.wav"
    import openai

    try:
        client.audio.speech.create(model="qwen3-tts-vc-2026-01-22", voice="qwen-tts-vc-nobody-voice-20260101000000000-0000", input=text)
        refused = None
    except openai.APIStatusError as error:
        refused = [type(error).__name__, error.status_code, error.body]
    report(files=files, streamed_parts=parts, refused=refused)


flows = {
    "dashscope-http": lambda: dashscope_http(False),
    "dashscope-sse": lambda: dashscope_http(True),
    "dashscope-realtime-server-commit": lambda: dashscope_realtime("server_commit"),
    "dashscope-realtime-commit": lambda: dashscope_realtime("commit"),
    "enrollment": lambda: enrollment(sys.argv[6]),
    "openai-speech": openai_speech,
}
flows[flow]()
