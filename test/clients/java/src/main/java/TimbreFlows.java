// The DashScope Java SDK used as the provider's documentation shows, against a Timbre server:
// only the base URL and the API key differ from the cloud. Writes what came back into the
// output folder and prints one JSON line; test/clients.test.ts decodes and asserts.
//
//   java TimbreFlows <realtime-server-commit | http> <base url> <api key> <voice> <output folder>
import com.alibaba.dashscope.aigc.multimodalconversation.MultiModalConversation;
import com.alibaba.dashscope.aigc.multimodalconversation.MultiModalConversationParam;
import com.alibaba.dashscope.aigc.multimodalconversation.MultiModalConversationResult;
import com.alibaba.dashscope.audio.qwen_tts_realtime.QwenTtsRealtime;
import com.alibaba.dashscope.audio.qwen_tts_realtime.QwenTtsRealtimeAudioFormat;
import com.alibaba.dashscope.audio.qwen_tts_realtime.QwenTtsRealtimeCallback;
import com.alibaba.dashscope.audio.qwen_tts_realtime.QwenTtsRealtimeConfig;
import com.alibaba.dashscope.audio.qwen_tts_realtime.QwenTtsRealtimeParam;
import com.alibaba.dashscope.exception.ApiException;
import com.alibaba.dashscope.utils.Constants;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

public class TimbreFlows {
  public static void main(String[] args) throws Exception {
    String flow = args[0], base = args[1], apiKey = args[2], voice = args[3];
    Path out = Path.of(args[4]);
    Files.createDirectories(out);
    Map<String, Object> report = new LinkedHashMap<>();
    if (flow.equals("realtime-server-commit")) {
      List<String> events = new ArrayList<>();
      ByteArrayOutputStream pcm = new ByteArrayOutputStream();
      CountDownLatch finished = new CountDownLatch(1);
      QwenTtsRealtimeParam param = QwenTtsRealtimeParam.builder()
          .model("qwen3-tts-vc-realtime-2026-01-15")
          .url(base.replaceFirst("^http", "ws") + "/api-ws/v1/realtime")
          .apikey(apiKey)
          .build();
      QwenTtsRealtime tts = new QwenTtsRealtime(param, new QwenTtsRealtimeCallback() {
        @Override
        public void onEvent(JsonObject message) {
          String type = message.get("type").getAsString();
          synchronized (events) {
            events.add(type);
          }
          if (type.equals("response.audio.delta")) pcm.writeBytes(Base64.getDecoder().decode(message.get("delta").getAsString()));
          if (type.equals("session.finished")) finished.countDown();
        }

        @Override
        public void onClose(int code, String reason) {
          finished.countDown();
        }
      });
      tts.connect();
      tts.updateSession(QwenTtsRealtimeConfig.builder().voice(voice).responseFormat(QwenTtsRealtimeAudioFormat.PCM_24000HZ_MONO_16BIT).mode("server_commit").build());
      for (String part : new String[] {"The meeting has been moved ", "to Thursday afternoon, ", "so please bring the latest figures with you."}) tts.appendText(part);
      tts.finish();
      report.put("finished", finished.await(60, TimeUnit.SECONDS));
      // The server ends the session after session.finished; close() then says it is already closed.
      if (!events.contains("session.finished")) tts.close();
      Files.write(out.resolve("java-realtime.pcm"), pcm.toByteArray());
      synchronized (events) {
        report.put("events", events);
      }
      report.put("file", "java-realtime.pcm");
    } else {
      Constants.baseHttpApiUrl = base + "/api/v1";
      MultiModalConversationParam param = MultiModalConversationParam.builder()
          .model("qwen3-tts-vc-2026-01-22")
          .apiKey(apiKey)
          .text("The meeting has been moved to Thursday afternoon, so please bring the latest figures with you.")
          .parameter("voice", voice)
          .languageType("English")
          .build();
      MultiModalConversationResult result = new MultiModalConversation().call(param);
      try (InputStream audio = URI.create(result.getOutput().getAudio().getUrl()).toURL().openStream()) {
        Files.write(out.resolve("java-http.wav"), audio.readAllBytes());
      }
      report.put("finish_reason", result.getOutput().getFinishReason());
      report.put("file", "java-http.wav");
      try {
        new MultiModalConversation().call(MultiModalConversationParam.builder()
            .model("qwen3-tts-vc-2026-01-22").apiKey(apiKey).text("Hello.").parameter("voice", "qwen-tts-vc-nobody-voice-20260101000000000-0000").build());
        report.put("refused", null);
      } catch (ApiException error) {
        report.put("refused", List.of(error.getStatus().getStatusCode(), error.getStatus().getCode()));
      }
    }
    System.out.println(new Gson().toJson(report));
    System.exit(0);
  }
}
