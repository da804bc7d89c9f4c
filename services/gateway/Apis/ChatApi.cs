using System.Globalization;
using System.Text.Json;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Http;
using EasyIm.Hosting.Bus;
using Google.Protobuf;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EasyIm.Gateway.Apis;

/// <summary>Chat history and the conversation list. Messages are in the wire's JSON form, as on a socket.</summary>
public static class ChatApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public sealed record HistoryData(ulong Total, IReadOnlyList<JsonElement> Items);
    public sealed record ConversationItem(string ConversationId, int ChatType, string PeerId, JsonElement? LastMessage, ulong Unread);
    public sealed record ConversationsData(IReadOnlyList<ConversationItem> Items);

    /// <summary>protobuf's JSON mapping with proto field names and enums as integers (64-bit numbers come out as strings).</summary>
    private static readonly JsonFormatter WireJson = new(JsonFormatter.Settings.Default
        .WithPreserveProtoFieldNames(true)
        .WithFormatEnumsAsIntegers(true));

    public static RouteGroupBuilder MapChatApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/chat").WithTags("Chat");
        api.MapGet("/history", History)
            .WithSummary("A conversation's messages, newest first; participants only")
            .WithDescription($"Query: conversation_id (s_<smaller user id>_<larger user id> or g_<group id>), before_seq (optional: messages with a smaller conversation_seq), limit (1-{MaxLimit}, default {DefaultLimit}).");
        api.MapGet("/conversations", Conversations)
            .WithSummary("My recent conversations, with the last message and the unread count");
        return api;
    }

    public static async Task<IResult> History(HttpRequest request, [FromServices] IRequestClient<ValidateAccessToken> auth,
        [FromServices] IRequestClient<GetHistory> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var userId = await CallerAsync(request, input, auth, ct);
        var conversationId = input.RequiredString("conversation_id", ConversationId.MaxLength);
        if (!ConversationId.TryParse(conversationId, out _))
            throw new ApiInputException("conversation_id", "conversation_id must be s_<smaller user id>_<larger user id> or g_<group id>");
        var beforeSeq = input.OptionalString("before_seq", 20) is { Length: > 0 } text
            ? ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && seq > 0
                ? seq
                : throw new ApiInputException("before_seq", "before_seq must be a positive integer")
            : (ulong?)null;
        var limit = input.OptionalString("limit", 10) is { Length: > 0 } limitText
            ? int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxLimit
                ? n
                : throw new ApiInputException("limit", $"limit must be an integer from 1 to {MaxLimit}")
            : DefaultLimit;
        return await ServiceCalls.AskAsync(messaging, new GetHistory(userId, conversationId, beforeSeq, limit),
            (HistoryPage page) => new HistoryData(page.Total, page.Items.Select(ToJson).ToList()), ct);
    }

    public static async Task<IResult> Conversations(HttpRequest request, [FromServices] IRequestClient<ValidateAccessToken> auth,
        [FromServices] IRequestClient<ListConversations> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var userId = await CallerAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(messaging, new ListConversations(userId),
            (ConversationList list) => new ConversationsData(list.Items
                .Select(c => new ConversationItem(c.ConversationId, c.ChatType, c.PeerId.ToString(CultureInfo.InvariantCulture),
                    c.LastMessage is null ? null : ToJson(c.LastMessage), c.Unread))
                .ToList()), ct);
    }

    /// <summary>
    /// The user the request's token belongs to, or a 401. Kept private here rather than shared with the
    /// friends routes' helper, which is written in parallel; the two can be merged.
    /// </summary>
    private static async Task<long> CallerAsync(HttpRequest request, ApiInput input, IRequestClient<ValidateAccessToken> auth, CancellationToken ct)
    {
        var token = input.AccessToken(request);
        if (string.IsNullOrEmpty(token))
            throw new ApiInputException("access_token", "access_token is required", StatusCodes.Status401Unauthorized);
        try
        {
            var response = await auth.GetResponse<AccessTokenValidated, RequestRejected>(new ValidateAccessToken(null, token), ct, BusSetup.RequestTimeout);
            if (response.Is(out Response<AccessTokenValidated>? ok))
                return ok.Message.UserId;
            response.Is(out Response<RequestRejected>? rejected);
            throw new ApiInputException("access_token", rejected!.Message.Message, rejected.Message.Code);
        }
        catch (RequestTimeoutException)
        {
            throw new ApiInputException(null, "the auth service did not answer in time; try again", StatusCodes.Status503ServiceUnavailable);
        }
    }

    internal static JsonElement ToJson(WireMessage m)
    {
        var msg = new Msg
        {
            Id = Id(m.Id),
            Seq = m.Seq,
            FromUserId = Id(m.FromUserId),
            ToUserId = Id(m.ToUserId),
            ChatType = (Msg.Types.ChatType)m.ChatType,
            MsgType = (Msg.Types.MsgType)m.MsgType,
            Status = (Msg.Types.MsgStatus)m.Status,
            Content = m.Content,
            ClientMsgId = m.ClientMsgId ?? "",
            ConversationId = m.ConversationId ?? "",
            ConversationSeq = m.ConversationSeq,
            SentAt = m.SentAt,
            Error = m.Error ?? "",
        };
        using var document = JsonDocument.Parse(WireJson.Format(msg));
        return document.RootElement.Clone();
    }

    private static string Id(long id) => id == 0 ? "" : id.ToString(CultureInfo.InvariantCulture);
}
