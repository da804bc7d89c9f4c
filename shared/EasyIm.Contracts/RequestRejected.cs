namespace EasyIm.Contracts;

/// <summary>
/// The negative reply to any request on the bus. <paramref name="Code"/> follows HTTP status
/// semantics (400 bad input, 401 bad credentials, 403 forbidden, 404 not found, 409 conflict,
/// 429 over a budget, 503 busy) so a gateway can pass it to the client unchanged. <paramref name="Field"/>
/// names the input at fault, when there is one; <paramref name="RetryAfterSeconds"/>, when set, is
/// when the caller may try again (the gateway's <c>Retry-After</c>).
/// </summary>
public sealed record RequestRejected(int Code, string Message, string? Field = null, int? RetryAfterSeconds = null);
