using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "messaging");

            migrationBuilder.CreateTable(
                name: "conversations",
                schema: "messaging",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: false),
                    kind = table.Column<int>(type: "integer", nullable: false),
                    last_seq = table.Column<long>(type: "bigint", nullable: false),
                    user_a = table.Column<long>(type: "bigint", nullable: false),
                    user_b = table.Column<long>(type: "bigint", nullable: false),
                    group_id = table.Column<long>(type: "bigint", nullable: false),
                    last_message_id = table.Column<long>(type: "bigint", nullable: false),
                    last_sent_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_conversations", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "cursors",
                schema: "messaging",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    conversation_id = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: false),
                    arrived_seq = table.Column<long>(type: "bigint", nullable: false),
                    read_seq = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cursors", x => new { x.user_id, x.conversation_id });
                });

            migrationBuilder.CreateTable(
                name: "friendships",
                schema: "messaging",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    friend_id = table.Column<long>(type: "bigint", nullable: false),
                    active = table.Column<bool>(type: "boolean", nullable: false),
                    changed_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_friendships", x => new { x.user_id, x.friend_id });
                });

            migrationBuilder.CreateTable(
                name: "group_members",
                schema: "messaging",
                columns: table => new
                {
                    group_id = table.Column<long>(type: "bigint", nullable: false),
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    active = table.Column<bool>(type: "boolean", nullable: false),
                    role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    muted = table.Column<bool>(type: "boolean", nullable: false),
                    changed_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_group_members", x => new { x.group_id, x.user_id });
                });

            migrationBuilder.CreateTable(
                name: "groups",
                schema: "messaging",
                columns: table => new
                {
                    group_id = table.Column<long>(type: "bigint", nullable: false),
                    muted = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_groups", x => x.group_id);
                });

            migrationBuilder.CreateTable(
                name: "messages",
                schema: "messaging",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false),
                    conversation_id = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: false),
                    conversation_seq = table.Column<long>(type: "bigint", nullable: false),
                    sender_id = table.Column<long>(type: "bigint", nullable: false),
                    to_id = table.Column<long>(type: "bigint", nullable: false),
                    client_msg_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    chat_type = table.Column<int>(type: "integer", nullable: false),
                    msg_type = table.Column<int>(type: "integer", nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    sent_at = table.Column<long>(type: "bigint", nullable: false),
                    status = table.Column<int>(type: "integer", nullable: false),
                    arrived_at = table.Column<long>(type: "bigint", nullable: true),
                    read_at = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_messages", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "node_leases",
                schema: "messaging",
                columns: table => new
                {
                    NodeId = table.Column<int>(type: "integer", nullable: false),
                    Holder = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_node_leases", x => x.NodeId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_conversations_group_id",
                schema: "messaging",
                table: "conversations",
                column: "group_id");

            migrationBuilder.CreateIndex(
                name: "IX_conversations_user_a",
                schema: "messaging",
                table: "conversations",
                column: "user_a");

            migrationBuilder.CreateIndex(
                name: "IX_conversations_user_b",
                schema: "messaging",
                table: "conversations",
                column: "user_b");

            migrationBuilder.CreateIndex(
                name: "IX_group_members_user_id",
                schema: "messaging",
                table: "group_members",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "IX_messages_conversation_id_conversation_seq",
                schema: "messaging",
                table: "messages",
                columns: new[] { "conversation_id", "conversation_seq" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_messages_sender_id_client_msg_id",
                schema: "messaging",
                table: "messages",
                columns: new[] { "sender_id", "client_msg_id" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "conversations",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "cursors",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "friendships",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "group_members",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "groups",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "messages",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "node_leases",
                schema: "messaging");
        }
    }
}
