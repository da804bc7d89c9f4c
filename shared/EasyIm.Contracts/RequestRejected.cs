namespace EasyIm.Contracts;

/// <summary>
/// The negative reply to any request on the bus. <paramref name="Code"/> follows HTTP status
/// semantics (400 bad input, 401 bad credentials, 403 forbidden, 404 not found, 409 conflict)
/// so a gateway can pass it to the client unchanged. <paramref name="Field"/> names the input
/// at fault, when there is one.
/// </summary>
public sealed record RequestRejected(int Code, string Message, string? Field = null);
