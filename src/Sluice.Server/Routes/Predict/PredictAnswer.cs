using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Predict;

/// <summary>/v1/predict's answer: <c>{"text": completion}</c> with its finish reason and usage.</summary>
internal sealed class PredictAnswer(GenerationJob job) : AnswerBuilder<PredictResponse>(job, OpenAiJson.Web.PredictResponse)
{
    public override PredictResponse Build(GenerationSession session) =>
        new(ResponseIds.Completion(Job.RequestId), Job.Model, TextOf(0), FinishOf(session, 0), session.Usage());
}
