"""Operator screens: templates (checked on save, with a preview), the delivery log (with resend),
preferences, devices and what the sandbox providers would have sent."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from contexts.notifications import rendering, services
from contexts.notifications.models import Device, Notification, Preference, SandboxMessage, Template
from integration.adminkit import ModelAdmin, ReadOnlyAdmin
from integration.bus import registry


def _subscribed_event_types() -> list[str]:
    return sorted({s.event_type for s in registry.all_subscriptions() if s.context == "notifications"})


class TemplateForm(forms.ModelForm):
    """The event type is one notifications subscribes to; the model's clean() refuses a template that
    does not compile (with its line number) or fails to render with the event's sample payload."""

    class Meta:
        model = Template
        fields = ["event_type", "channel", "locale", "subject", "body_text", "body_html"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = _subscribed_event_types()
        current = self.instance.event_type
        if current and current not in choices:
            choices.append(current)
        self.fields["event_type"] = forms.ChoiceField(choices=[(c, c) for c in choices])


class _ReadOnlyAdmin(ReadOnlyAdmin):
    """Rows written by the services only: operators look (and act through actions), never edit."""

    deletable = True


@admin.register(Template)
class TemplateAdmin(ModelAdmin):
    form = TemplateForm
    list_display = ("event_type", "channel", "locale", "subject", "updated_at")
    list_filter = ("channel", "locale", "event_type")
    search_fields = ("event_type", "subject", "body_text")
    readonly_fields = ("preview",)
    fieldsets = [
        (None, {"fields": ["event_type", "channel", "locale"]}),
        ("Message", {"fields": ["subject", "body_text", "body_html"]}),
        ("Preview, from a sample payload (save to refresh)", {"fields": ["preview"]}),
    ]

    @admin.display(description="preview")
    def preview(self, obj: Template) -> str:
        if obj is None or obj.pk is None:
            return "Save the template to see it rendered."
        context = rendering.sample_context(obj.event_type)
        try:
            rendered = rendering.render(
                subject=obj.subject,
                body_text=obj.body_text,
                body_html=obj.body_html,
                context=context,
                locale=obj.locale,
            )
        except Exception as exc:  # an older row saved before the checks: show why, never a 500
            return format_html("<strong>Does not render:</strong> {}", exc)
        sample = format_html_join(
            "", "<li><code>{}</code>: {}</li>", ((k, v) for k, v in context.items() if k != "customer")
        )
        html = (
            format_html(
                '<iframe sandbox="" srcdoc="{}" style="width:100%;height:18em"></iframe>',
                rendered.body_html,
            )
            if rendered.body_html
            else ""
        )
        return format_html(
            "<p><strong>Subject:</strong> {}</p><pre style='white-space:pre-wrap'>{}</pre>{}"
            "<p>Sample payload:</p><ul>{}</ul>",
            rendered.subject,
            rendered.body_text,
            html,
            sample,
        )


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "channel", "recipient", "status", "attempts", "short_reason")
    list_filter = ("status", "channel", "category", "event_type")
    search_fields = ("=id", "=event_id", "=user_id", "recipient", "provider_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["resend"]
    list_per_page = 50

    @admin.display(description="reason / last error")
    def short_reason(self, obj: Notification) -> str:
        return (obj.last_error or obj.reason)[:120]

    @admin.action(description="Resend selected failed notifications")
    def resend(self, request, queryset):
        count = services.notifications_resend(notification_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"Resending {count} notification(s).", messages.SUCCESS)
        skipped = queryset.count() - count
        if skipped:
            self.message_user(
                request,
                f"{skipped} were not failed (or had nothing rendered to send) and were left alone.",
                messages.WARNING,
            )


@admin.register(Preference)
class PreferenceAdmin(_ReadOnlyAdmin):
    list_display = ("user_id", "channels", "quiet_start", "quiet_end", "timezone", "locale", "updated_at")
    search_fields = ("=user_id",)
    readonly_fields = [f.name for f in Preference._meta.fields]


@admin.register(Device)
class DeviceAdmin(_ReadOnlyAdmin):
    list_display = ("user_id", "platform", "created_at")
    list_filter = ("platform",)
    search_fields = ("=user_id",)
    readonly_fields = [f.name for f in Device._meta.fields]


@admin.register(SandboxMessage)
class SandboxMessageAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "channel", "to", "title", "provider_id")
    list_filter = ("channel",)
    search_fields = ("to", "key", "provider_id")
    readonly_fields = [f.name for f in SandboxMessage._meta.fields]
