"""The training-time probe view: probe score over steps for one or more jobs (the paper's three-phase curve)."""

from django.shortcuts import render

from evaluation.selectors.probes import probe_curve, probe_jobs
from kernel.roles import Role, role_required


@role_required(Role.ML_ENGINEER, Role.REVIEWER)
def probe_view(request):
    jobs = list(probe_jobs())
    chosen = {int(i) for i in request.GET.getlist("job") if i.isdigit()} or {j.pk for j in jobs[:3]}
    curves = [probe_curve(job=j) for j in jobs if j.pk in chosen]
    chart = {
        "datasets": [
            {
                "label": f"{c['job'].name} ({c['job'].method})",
                "data": [{"x": s, "y": v} for s, v in zip(c["steps"], c["scores"], strict=True)],
            }
            for c in curves
        ]
    }
    return render(request, "evaluation/probe.html", {"jobs": jobs, "curves": curves, "chart": chart, "chosen": chosen})
