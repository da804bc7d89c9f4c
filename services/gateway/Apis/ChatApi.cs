using System.Globalization;
using System.Text.Json;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Gateway.Http;
using EasyIm.Gateway.Wire;
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

    /// <param name="RetainedFromSeq">Where the conversation's kept history starts: older messages were deleted by retention.</param>
    public sealed record HistoryData(ulong Total, IReadOnlyList<JsonElement> Items, ulong RetainedFromSeq);
    public sealed record ConversationItem(string ConversationId, int ChatType, string PeerId, JsonElement? LastMessage, ulong Unread);
    public sealed record ConversationsData(IReadOnlyList<ConversationItem> Items);

    public static RouteGroupBuilder MapChatApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/chat").WithTags("Chat");
        api.MapGet("/history", History)
            .WithSummary("A conversation's messages, newest first; participants only")
            .WithDescription($"Query: conversation_id (s_<smaller user id>_<larger user id> or g_<group id>), before_seq (optional: messages with a smaller conversation_seq), limit (1-{MaxLimit}, default {DefaultLimit}).");
        api.MapGet("/receipts", Receipts)
            .WithSummary("Read by: how far each other participant received and read a conversation; participants only")
            .WithDescription("Query: conversation_id. {last_seq, total, items:[{user_id, arrived_seq, read_seq}]}, ordered by user id: a message " +
                "with seq S was delivered to those whose arrived_seq is at least S and read by those whose read_seq is.");
        api.MapGet("/conversations", Conversations)
            .WithSummary("My recent conversations, with the last message and the unread count");
        return api;
    }

    public static async Task<IResult> History(HttpRequest request, [FromServices] IRequestClient<ValidateAccessToken> auth,
        [FromServices] IRequestClient<GetHistory> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var userId = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var conversationId = RequiredConversationId(input);
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
            (HistoryPage page) => new HistoryData(page.Total, page.Items.Select(ToJson).ToList(), page.RetainedFromSeq), ct);
    }

    /// <summary>The <c>conversation_id</c> of the query or body, well formed, or a 400 naming it.</summary>
    private static string RequiredConversationId(ApiInput input)
    {
        var conversationId = input.RequiredString("conversation_id", ConversationId.MaxLength);
        return ConversationId.TryParse(conversationId, out _)
            ? conversationId
            : throw new ApiInputException("conversation_id", "conversation_id must be s_<smaller user id>_<larger user id> or g_<group id>");
    }

    public sealed record ReceiptItem(string UserId, long ArrivedSeq, long ReadSeq);
    public sealed record ReceiptsData(long LastSeq, int Total, IReadOnlyList<ReceiptItem> Items);

    public static async Task<IResult> Receipts(HttpRequest request, [FromServices] IRequestClient<ValidateAccessToken> auth,
        [FromServices] IRequestClient<GetReceiptCursors> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var userId = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var conversationId = RequiredConversationId(input);
        return await ServiceCalls.AskAsync(messaging, new GetReceiptCursors(userId, conversationId), (ReceiptCursorList list) => new ReceiptsData(list.LastSeq,
            list.Items.Count, list.Items.Select(c => new ReceiptItem(c.UserId.ToString(CultureInfo.InvariantCulture), c.ArrivedSeq, c.ReadSeq)).ToList()), ct);
    }

    public static async Task<IResult> Conversations(HttpRequest request, [FromServices] IRequestClient<ValidateAccessToken> auth,
        [FromServices] IRequestClient<ListConversations> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var userId = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(messaging, new ListConversations(userId),
            (ConversationList list) => new ConversationsData(list.Items
                .Select(c => new ConversationItem(c.ConversationId, c.ChatType, c.PeerId.ToString(CultureInfo.InvariantCulture),
                    c.LastMessage is null ? null : ToJson(c.LastMessage), c.Unread))
                .ToList()), ct);
    }

    internal static JsonElement ToJson(WireMessage m)
    {
        using var document = JsonDocument.Parse(MsgCodec.ToJson(MsgCodec.FromWire(m)));
        return document.RootElement.Clone();
    }
}
