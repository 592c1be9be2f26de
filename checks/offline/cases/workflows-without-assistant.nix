# hwc.ai.workflows without hwc.ai.assistant.enable: nothing would run
# them, so the build stops and says what to enable.
{
  config = {
    hwc.ai = {
      enable = true;
      workflows.daily = {
        kind = "journal";
        output.journal = true;
      };
    };
  };

  failedAssertions = [ "hwc.ai.workflows (daily): workflows run in hwc-ai-assistant; set hwc.ai.assistant.enable = true" ];

  expect = _: [ ];
}
