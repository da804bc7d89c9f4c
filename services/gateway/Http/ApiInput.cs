using System.Text.Json;
using EasyIm.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace EasyIm.Gateway.Http;

/// <summary>A request's input is unusable; answered 400 (or <see cref="Status"/>) naming <see cref="Field"/>.</summary>
public sealed class ApiInputException(string? field, string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    public string? Field { get; } = field;
    public int Status { get; } = status;
}

/// <summary>
/// A request's JSON body and query, read by hand so that every bad input is answered in the
/// envelope with the field it concerns, rather than as a framework error page.
/// </summary>
public sealed class ApiInput
{
    public const int MaxBodyBytes = 64 * 1024;
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16 };
    private readonly JsonElement _body;
    private readonly IQueryCollection _query;

    private ApiInput(JsonElement body, IQueryCollection query)
    {
        _body = body;
        _query = query;
    }

    public static async Task<ApiInput> ReadAsync(HttpRequest request)
    {
        var sizeLimit = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeLimit is { IsReadOnly: false })
            sizeLimit.MaxRequestBodySize = MaxBodyBytes;
        if (request.ContentLength > MaxBodyBytes)
            throw new ApiInputException(null, $"request body is larger than {MaxBodyBytes} bytes", StatusCodes.Status413PayloadTooLarge);

        JsonElement body = default;
        if (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method))
        {
            try
            {
                using var buffer = new MemoryStream();
                await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
                if (buffer.Length > 0)
                {
                    using var doc = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), DocumentOptions);
                    if (doc.RootElement.ValueKind != JsonValueKind.Object)
                        throw new ApiInputException(null, "request body must be a JSON object");
                    body = doc.RootElement.Clone();
                }
            }
            catch (JsonException ex)
            {
                throw new ApiInputException(null, $"request body is not valid JSON: {ex.Message}");
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                throw new ApiInputException(null, $"request body is larger than {MaxBodyBytes} bytes", StatusCodes.Status413PayloadTooLarge);
            }
        }
        return new ApiInput(body, request.Query);
    }

    private bool TryGet(string field, out JsonElement value)
    {
        value = default;
        return _body.ValueKind == JsonValueKind.Object && _body.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null;
    }

    /// <summary>A string from the body, else the query; null when absent. A number or bool where a string belongs is refused.</summary>
    public string? OptionalString(string field, int maxLength)
    {
        string? text;
        if (TryGet(field, out var value))
        {
            if (value.ValueKind != JsonValueKind.String)
                throw new ApiInputException(field, $"{field} must be a string");
            try
            {
                text = value.GetString();
            }
            catch (InvalidOperationException)
            {
                throw new ApiInputException(field, $"{field} must be valid Unicode text (it holds an unpaired surrogate)");
            }
        }
        else
        {
            text = _query.TryGetValue(field, out var q) ? q.ToString() : null;
        }
        if (text is not null && text.Length > maxLength)
            throw new ApiInputException(field, $"{field} must be at most {maxLength} characters");
        // Every string a route takes may be stored or queried by a service: refuse what no store accepts here, by name.
        if (TextRules.Problem(text) is { } problem)
            throw new ApiInputException(field, $"{field} {problem}");
        return text;
    }

    public string RequiredString(string field, int maxLength) =>
        OptionalString(field, maxLength) is { Length: > 0 } text ? text : throw new ApiInputException(field, $"{field} is required");

    public bool OptionalBool(string field)
    {
        if (TryGet(field, out var value))
        {
            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ApiInputException(field, $"{field} must be true or false"),
            };
        }
        if (!_query.TryGetValue(field, out var q))
            return false;
        return bool.TryParse(q.ToString(), out var parsed) ? parsed : throw new ApiInputException(field, $"{field} must be true or false");
    }

    /// <summary>A 64-bit id, as a JSON string (as ids are sent) or a JSON number.</summary>
    public long? OptionalId(string field)
    {
        if (TryGet(field, out var value))
        {
            return value.ValueKind switch
            {
                JsonValueKind.String when long.TryParse(value.GetString(), out var id) && id > 0 => id,
                JsonValueKind.Number when value.TryGetInt64(out var id) && id > 0 => id,
                _ => throw new ApiInputException(field, $"{field} must be an id (a positive 64-bit integer, as a string)"),
            };
        }
        if (!_query.TryGetValue(field, out var q))
            return null;
        return long.TryParse(q.ToString(), out var parsed) && parsed > 0
            ? parsed
            : throw new ApiInputException(field, $"{field} must be an id (a positive 64-bit integer, as a string)");
    }

    public long RequiredId(string field) => OptionalId(field) ?? throw new ApiInputException(field, $"{field} is required");

    public IReadOnlyList<long> IdList(string field, int maxCount)
    {
        if (!TryGet(field, out var value))
            return [];
        if (value.ValueKind != JsonValueKind.Array)
            throw new ApiInputException(field, $"{field} must be an array of ids");
        if (value.GetArrayLength() > maxCount)
            throw new ApiInputException(field, $"{field} may hold at most {maxCount} ids");
        var ids = new List<long>();
        foreach (var item in value.EnumerateArray())
        {
            ids.Add(item.ValueKind switch
            {
                JsonValueKind.String when long.TryParse(item.GetString(), out var id) && id > 0 => id,
                JsonValueKind.Number when item.TryGetInt64(out var id) && id > 0 => id,
                _ => throw new ApiInputException(field, $"{field} must be an array of ids"),
            });
        }
        return ids;
    }

    /// <summary>The caller's token: <c>Authorization: Bearer</c>, else <c>access_token</c> in the query or body.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return header["Bearer ".Length..].Trim();
        return null;
    }

    public string? AccessToken(HttpRequest request) => BearerToken(request) ?? OptionalString("access_token", 4096);
}
